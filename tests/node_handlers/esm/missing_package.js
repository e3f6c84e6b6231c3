import leftPad from "not-a-package-anywhere";
export const handler = async () => leftPad;
