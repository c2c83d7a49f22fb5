// Placeholder: the lb subsystem's public API is exported from here.
export {};
