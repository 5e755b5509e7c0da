import semver from "semver";
import { checks } from "../lib/checks.mjs";

export default checks({
  compare: () => [semver.gt("1.2.3", "1.2.3-beta.1"), semver.lt("1.0.0-alpha.10", "1.0.0-alpha.9"), semver.compare("2.0.0", "10.0.0"), semver.rcompare("1.0.0", "1.0.1")],
  ranges: () => [semver.satisfies("1.2.3", "^1.0.0"), semver.satisfies("2.0.0-rc.1", ">=1.0.0"), semver.satisfies("2.0.0-rc.1", ">=1.0.0", { includePrerelease: true }), semver.maxSatisfying(["1.2.3", "1.3.0", "2.0.0"], "~1.2 || ^1.3"), semver.validRange("1.x || >=2.5.0 <3")],
  parse: () => [semver.valid("v1.2.3"), semver.valid("1.2"), semver.clean("  =v1.2.3  "), semver.coerce("version 4.2 of x").version, semver.parse("1.2.3-rc.1+build.5").prerelease],
  inc: () => [semver.inc("1.2.3", "minor"), semver.inc("1.2.3-rc.1", "prerelease"), semver.inc("1.2.3", "premajor", "beta"), semver.diff("1.2.3", "2.0.0")],
  sort: () => semver.sort(["1.10.0", "1.2.0", "1.2.0-rc.1", "0.9.9", "1.2.0-alpha"]),
  intersects: () => [semver.intersects("^1.2", "~1.3"), semver.intersects(">2", "<1"), semver.minVersion(">=1.2.3 <2").version],
});
