export default function () {
  const out = {};
  let seed = 7; const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const base = Float64Array.from({ length: 300 }, (_, i) => i);
  const shuffled = base.slice().sort(() => rand() - 0.5);
  out.permutation = shuffled.slice().sort().join() === base.join();
  let flip = 0;
  out.inconsistent = Int32Array.from(base).sort(() => (flip++ % 3) - 1).sort().join() === Int32Array.from(base).join();
  out.toSorted = Array.from(Uint8Array.from(base.subarray(0, 200)).toSorted(() => rand() - 0.5).toSorted((a, b) => a - b)).join() === Array.from(base.subarray(0, 200)).join();
  out.desc = new Int16Array([5, -1, 300, 7]).sort((a, b) => b - a).join();
  out.stable = new Float32Array([1.5, 1.25, 2, 1.75]).sort((a, b) => Math.trunc(a) - Math.trunc(b)).join();
  out.zeroCmp = new Int8Array([3, 1, 2]).sort(() => 0).join();
  out.nan = new Float64Array([3, NaN, -0, 0, -1]).sort().join() + "|" + new Float64Array([3, 1, 2]).sort(() => NaN).join();
  out.bigint = new BigInt64Array([3n, -5n, 10n]).sort((a, b) => (a < b ? 1 : a > b ? -1 : 0)).join();
  const src = new Uint16Array([9, 8, 7]); const copy = src.toSorted((a, b) => a - b);
  out.copy = [copy.constructor.name, copy.join(), src.join(), copy !== src].join();
  const a = new Int32Array([2, 1]); out.same = a.sort((x, y) => x - y) === a;
  try { new Int8Array([2, 1]).sort(() => { throw new Error("cmp"); }); } catch (e) { out.throws = e.message; }
  try { new Int8Array([2, 1]).sort("x"); } catch (e) { out.bad = e.name; }
  try { Int8Array.prototype.sort.call([2, 1], (a, b) => a - b); } catch (e) { out.notTyped = e.name; }
  try { Int8Array.prototype.toSorted.call({ length: 1 }, (a, b) => a - b); } catch (e) { out.notTyped2 = e.name; }
  out.names = [Int8Array.prototype.sort.name, Int8Array.prototype.sort.length, Int8Array.prototype.toSorted.name, Object.getPrototypeOf(Int8Array.prototype).hasOwnProperty("sort")].join();
  return out;
}
