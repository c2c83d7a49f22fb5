// For child processes run with vite-node: lower `await using` (Node 20 cannot parse it; vitest
// itself lowers it, vite-node's default target keeps it).
export default { esbuild: { target: 'node18' } };
