import { Base64 } from "js-base64";
import { checks } from "../lib/checks.mjs";

export default checks({
  encode: (p) => [Base64.encode(p.name), Base64.encode("日本語 🎉"), Base64.encodeURI("ÿÿ>>??"), Base64.btoa("abc")],
  decode: () => [Base64.decode("Wm/DqyDDhW5nc3Ryw7Zt"), Base64.decode("5pel5pys6Kqe8J-OiQ"), Base64.atob("YWJj")],
  bytes: () => [Base64.fromUint8Array(Uint8Array.of(0, 255, 1)), Array.from(Base64.toUint8Array("AP8B"))],
  valid: () => [Base64.isValid("YWJj"), Base64.isValid("a b c!")],
});
