/**
 * The console's build: `npm run build:console` writes `console/dist/` (index.html and content-hashed
 * files under `assets/`), which the gateway serves at `/` under a Content-Security-Policy that allows
 * no inline script or style: everything the page runs or styles with is a file here.
 */
import { defineConfig } from "vite";

export default defineConfig({
  root: import.meta.dirname,
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // The polyfill would be code the CSP has to allow; every browser the console supports has modulepreload.
    modulePreload: { polyfill: false },
    // Never inline an asset as a data: URL script or style.
    assetsInlineLimit: 0,
    sourcemap: false,
    reportCompressedSize: true,
  },
});
