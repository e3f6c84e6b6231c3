throw new Error("no config at init");
