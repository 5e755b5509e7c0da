import { load } from "cheerio";
import { checks } from "../lib/checks.mjs";

const html = `<html><head><title>Tést</title></head><body><ul id="fruits"><li class="apple">Apple</li><li class="orange" data-price="1.5">Orange</li><li class="pear">Pear &amp; co</li></ul><p>日本語 <a href="/x?a=1&amp;b=2">link</a></p></body></html>`;

export default checks({
  select: () => { const $ = load(html); return [$("title").text(), $("li").length, $(".orange").data("price"), $("li").map((_, e) => $(e).text()).get(), $("a").attr("href")]; },
  manipulate: () => { const $ = load(html); $("ul").append('<li class="plum">Plum</li>'); $(".apple").remove(); $("li").addClass("fruit"); return $("#fruits").html(); },
  traverse: () => { const $ = load(html); return [$(".orange").next().text(), $(".orange").prev().attr("class"), $("li").parent().attr("id"), $("li:nth-child(2)").text(), $("li").filter((i) => i > 0).length]; },
  serialize: () => load("<p>a<br>b</p><div>é</div>", null, false).html(),
  xml: () => load(`<root><item k="1">x</item></root>`, { xml: true })("item").attr("k"),
});
