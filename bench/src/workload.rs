//! The workloads: each one's script, payload and in-process baseline size.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Workload {
    /// `export default (p) => ({ sum: p.a + p.b })`
    Trivial,
    /// Recursive fib(20).
    Fib,
    /// Filter and map 1,000 records (~47 KB payload).
    Transform,
    /// Await a 50 ms `setTimeout`.
    Sleep,
}

pub(crate) fn script_source(workload: Workload) -> &'static str {
    match workload {
        Workload::Trivial => "export default (p) => ({ sum: p.a + p.b })\n",
        Workload::Fib => {
            "function fib(n){return n<2?n:fib(n-1)+fib(n-2)}\nexport default () => fib(20)\n"
        }
        Workload::Transform => {
            "export default function (payload) {\n\
             \x20 const kept = payload.records\n\
             \x20   .filter((r) => r.active && r.score >= 50)\n\
             \x20   .map((r) => ({ id: r.id, name: r.name.toUpperCase(), tier: r.score >= 90 ? \"gold\" : \"silver\" }));\n\
             \x20 return { total: payload.records.length, kept: kept.length, first: kept.slice(0, 3) };\n\
             }\n"
        }
        Workload::Sleep => {
            "export default async () => {\n\
             \x20 await new Promise((resolve) => setTimeout(resolve, 50));\n\
             \x20 return { slept: 50 };\n\
             }\n"
        }
    }
}

pub(crate) fn payload(workload: Workload) -> String {
    match workload {
        Workload::Trivial => r#"{"a":1,"b":2}"#.to_owned(),
        Workload::Fib | Workload::Sleep => "{}".to_owned(),
        Workload::Transform => transform_payload(),
    }
}

/// 1,000 records, deterministic: `{"id":7,"name":"u7","active":true,"score":59}`.
fn transform_payload() -> String {
    let records: Vec<String> = (0..1000_u32)
        .map(|i| {
            format!(
                r#"{{"id":{i},"name":"u{i}","active":{},"score":{}}}"#,
                i % 3 != 0,
                (i * 37) % 100
            )
        })
        .collect();
    format!(r#"{{"records":[{}]}}"#, records.join(","))
}

pub(crate) fn default_baseline_iterations(workload: Workload) -> u32 {
    match workload {
        Workload::Trivial => 20_000,
        Workload::Fib => 100,
        Workload::Transform => 1_000,
        Workload::Sleep => 20,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transform_payload_is_deterministic_json_of_1000_records() {
        let text = transform_payload();
        assert_eq!(text, transform_payload());
        let value: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(value["records"].as_array().map(Vec::len), Some(1000));
        assert!(
            (40_000..60_000).contains(&text.len()),
            "{} bytes",
            text.len()
        );
    }
}
