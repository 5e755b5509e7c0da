import CryptoJS from "crypto-js";
import { checks } from "../lib/checks.mjs";

export default checks({
  hashes: (p) => [CryptoJS.MD5(p.name).toString(), CryptoJS.SHA1("abc").toString(), CryptoJS.SHA256("日本語").toString(), CryptoJS.SHA512("").toString().slice(0, 32), CryptoJS.SHA3("abc", { outputLength: 256 }).toString(), CryptoJS.RIPEMD160("abc").toString()],
  hmac: () => [CryptoJS.HmacSHA256("message", "secret").toString(CryptoJS.enc.Base64), CryptoJS.HmacMD5("m", "k").toString()],
  aesFixed: () => {
    const key = CryptoJS.enc.Hex.parse("000102030405060708090a0b0c0d0e0f");
    const iv = CryptoJS.enc.Hex.parse("0f0e0d0c0b0a09080706050403020100");
    const encrypted = CryptoJS.AES.encrypt("secret message é", key, { iv });
    return [encrypted.toString(), CryptoJS.AES.decrypt(encrypted.toString(), key, { iv }).toString(CryptoJS.enc.Utf8)];
  },
  aesPassphrase: () => { const text = CryptoJS.AES.encrypt("round trip 🎉", "pass").toString(); return CryptoJS.AES.decrypt(text, "pass").toString(CryptoJS.enc.Utf8); },
  pbkdf2: () => CryptoJS.PBKDF2("password", "salt", { keySize: 8, iterations: 100, hasher: CryptoJS.algo.SHA256 }).toString(),
  encodings: () => [CryptoJS.enc.Base64.stringify(CryptoJS.enc.Utf8.parse("Zoë")), CryptoJS.enc.Utf16.stringify(CryptoJS.enc.Utf16.parse("ab")), CryptoJS.enc.Latin1.parse("ÿ").toString()],
});
