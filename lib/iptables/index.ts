// Placeholder: the iptables subsystem's public API is exported from here.
export {};
