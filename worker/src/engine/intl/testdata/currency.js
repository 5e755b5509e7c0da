// Currency formatting in en-US and en (symbols, narrow symbols, codes, minor-unit digits,
// accounting, sign display), NaN and infinities, resolvedOptions and the option errors.
// Compared with node 20 in worker/src/engine/intl/tests.rs.
export default () => {
  const cases = [["en-US",{style:"currency",currency:"USD"},1234.5],["en-US",{style:"currency",currency:"EUR"},-1234.567],["en-US",{style:"currency",currency:"JPY"},1234.5],["en-US",{style:"currency",currency:"GBP"},0],["en-US",{style:"currency",currency:"CHF"},1234.5],["en-US",{style:"currency",currency:"CAD"},1],["en-US",{style:"currency",currency:"CAD",currencyDisplay:"narrowSymbol"},1],["en-US",{style:"currency",currency:"usd",currencyDisplay:"code"},1234.5],["en-US",{style:"currency",currency:"USD",currencySign:"accounting"},-5],["en-US",{style:"currency",currency:"CHF",currencySign:"accounting"},-1],["en-US",{style:"currency",currency:"KWD"},1.5],["en-US",{style:"currency",currency:"USD",maximumFractionDigits:0},1234.5],["en-US",{style:"currency",currency:"USD",minimumFractionDigits:0},1234.5],["en",{style:"currency",currency:"INR"},1234.5],["en-US",{style:"currency",currency:"XOF"},-1234.5],["en-US",{style:"currency",currency:"XCG"},-1234.5],["en-US",{style:"currency",currency:"USD"},NaN],["en-US",{style:"currency",currency:"USD",signDisplay:"always"},5],["en-US",{style:"currency",currency:"USD"},-0],["en-US",{style:"currency",currency:"USD",maximumSignificantDigits:2},1234.5],["en-US",{style:"currency",currency:"USD"},12345678901234567890n],["en-US",{},NaN],["en-US",{},-Infinity],["en-US",{style:"percent"},NaN]];
  const out = cases.map(([l, o, v]) => new Intl.NumberFormat(l, o).format(v));
  out.push((1234.5).toLocaleString("en-US", { style: "currency", currency: "USD" }));
  const r = new Intl.NumberFormat("en-US", { style: "currency", currency: "eur" }).resolvedOptions();
  out.push([r.locale, r.style, r.currency, r.currencyDisplay, r.currencySign, r.minimumFractionDigits, r.maximumFractionDigits].join());
  for (const o of [{ style: "currency" }, { style: "currency", currency: "US" }, { style: "currency", currency: "USD", currencyDisplay: "big" }]) {
    try { new Intl.NumberFormat("en-US", o); out.push("no error"); } catch (e) { out.push(`${e.name}: ${e.message}`); }
  }
  return out;
};
