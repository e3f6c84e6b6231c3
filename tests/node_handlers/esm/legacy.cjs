module.exports.handler = async () => "cjs in an ESM package";
