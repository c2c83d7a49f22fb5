// Placeholder: the nft subsystem's public API is exported from here.
export {};
