export default function () {
  let seed = 12345; const rand = () => (seed = (seed * 16807) % 2147483647);
  const out = [];
  for (let i = 0; i < 25; i++) { const len = 16 + (i % 5); let s = String(1 + rand() % 9); while (s.length < len) s += String(rand() % 10); out.push(parseInt(s) + ":" + parseInt("-" + s + "x") + ":" + parseInt(" " + s, 10)); }
  return out.join(",");
}
