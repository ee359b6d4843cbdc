/**
 * Registers TensorFlow.js' gradient functions, which `@tensorflow/tfjs-core` alone does not do.
 * In Node the core's registration module cannot be loaded (its ESM files use extensionless
 * imports), so the `#register-gradients` import map (package.json "imports") points Node at the
 * `@tensorflow/tfjs` union package, whose bundle registers every gradient on the shared core, and
 * bundlers at the core's own `register_all_gradients` module.
 */
import '#register-gradients';
