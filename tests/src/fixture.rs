//! The JavaScript the tests run: each job script is a file in `tests/fixtures/jobs/`,
//! with a header saying what it does and which tests use it, so one script that several
//! test files need exists once. The few sources that are built from numbers or
//! expressions (a size, a count, a body under test) are made by [`generated`], the one
//! place that writes JavaScript in Rust.

use std::path::PathBuf;

/// The directory of the job fixtures.
pub fn jobs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/jobs")
}

/// The path of job fixture `name` (`tests/fixtures/jobs/<name>.js`).
pub fn job_path(name: &str) -> PathBuf {
    jobs_dir().join(format!("{name}.js"))
}

/// The source of job fixture `name`; panics naming the file when it is missing.
pub fn job(name: &str) -> String {
    let path = job_path(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("job fixture {}: {e}", path.display()))
}

/// Sources built from a value the test chooses.
pub mod generated {
    /// A handler whose body is `body`.
    pub fn handler_with_body(body: &str) -> String {
        format!("export default function () {{ {body} }}")
    }

    /// A handler that returns the value of the expression `expr`.
    pub fn returning(expr: &str) -> String {
        format!("export default () => ({expr})")
    }

    /// A handler that returns `value` inside `depth` pairs of `open` and `close`.
    pub fn returning_nested(value: i64, open: &str, close: &str, depth: usize) -> String {
        format!(
            "export default () => {}{value}{}",
            open.repeat(depth),
            close.repeat(depth)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every fixture says what it is for: a header of `//` lines naming its tests.
    #[test]
    fn every_job_fixture_has_a_header_naming_its_tests() {
        let mut seen = 0;
        for entry in std::fs::read_dir(jobs_dir()).expect("the job fixtures directory") {
            let path = entry.expect("a directory entry").path();
            assert_eq!(
                path.extension().and_then(|e| e.to_str()),
                Some("js"),
                "{} is not a job script",
                path.display()
            );
            let text = std::fs::read_to_string(&path).expect("read fixture");
            let header: Vec<&str> = text
                .lines()
                .take_while(|line| line.starts_with("//"))
                .collect();
            assert!(
                header.len() >= 2 && header.iter().any(|line| line.contains("Used by")),
                "{} must start with `//` lines saying what it does and `Used by` which tests",
                path.display()
            );
            seen += 1;
        }
        assert!(seen > 0, "no job fixture in {}", jobs_dir().display());
    }
}
