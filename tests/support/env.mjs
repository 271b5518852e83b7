// What every end-to-end and Node test reads from the environment that `npm test` sets up.

/**
 * The value of `name` (a devserver address and the like), without trailing slashes. Unset, it
 * throws: a test that needs the devserver fails rather than skips when run without it.
 */
export function requireEnv(name, why) {
  const value = process.env[name];
  if (!value) {
    throw new Error(
      `${name} is not set: ${why}. Run the end-to-end tests through \`npm test\`, which starts the devserver, ` +
        'or start it yourself (`. scripts/devserver.sh && devserver_start`) and export the variable.',
    );
  }
  return value.replace(/\/+$/, '');
}
