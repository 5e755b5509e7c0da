import chroma from "chroma-js";
import { checks } from "../lib/checks.mjs";

export default checks({
  convert: () => [chroma("hotpink").hex(), chroma("#ff3399").rgb(), chroma(210, 0.5, 0.5, "hsl").hex(), chroma("teal").hsl().map((v) => Number(v.toFixed(6)))],
  manipulate: () => [chroma("pink").darken().hex(), chroma("slategray").brighten(2).hex(), chroma("#f00").saturate(1).desaturate(2).hex(), chroma("orange").alpha(0.5).css()],
  mix: () => [chroma.mix("red", "blue").hex(), chroma.mix("red", "blue", 0.25, "lab").hex(), chroma.average(["#ddd", "yellow", "red", "teal"]).hex()],
  scale: () => [chroma.scale(["yellow", "008ae5"]).mode("lch").colors(5), chroma.scale("YlGnBu").domain([0, 100]).classes(5)(42).hex()],
  metrics: () => [Number(chroma.contrast("pink", "hotpink").toFixed(6)), Number(chroma.deltaE("#ededee", "#edeeed").toFixed(6)), Number(chroma("#ff0").luminance().toFixed(6)), chroma.valid("nope")],
  error: () => chroma("definitely not a color"),
});
