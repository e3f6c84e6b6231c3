export async function handler() { return "mjs"; }
