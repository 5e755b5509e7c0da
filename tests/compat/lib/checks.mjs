// The shape every case shares: a table of named checks run in order. A check that throws
// records the error's name and message in its place, so a call that fails under one engine
// shows as that one entry differing while the rest of the library is still compared.
export function checks(table) {
  return async function handler(payload) {
    const out = {};
    for (const [name, check] of Object.entries(table)) {
      try {
        out[name] = await check(payload);
      } catch (error) {
        out[name] = { threw: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
      }
    }
    return out;
  };
}
