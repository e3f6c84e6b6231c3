require("not-a-package-anywhere");
exports.handler = async () => "never";
