// Entry point of the `difflab` command. Imports the Reflect polyfill first (tsyringe needs it),
// then runs the program and turns every user error into one line and an exit code.
import 'reflect-metadata';
import { main } from './program.js';

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    // Not a DifflabError: a bug. Print the stack so it can be reported.
    console.error(e);
    process.exitCode = 70;
  },
);
