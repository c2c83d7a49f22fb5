// Placeholder: the ipvs subsystem's public API is exported from here.
export {};
