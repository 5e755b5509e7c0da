//! "Did you mean" for names a user typed: the closest of the names that exist, and the
//! sentence that lists them. Used wherever an unknown queue, script or schedule is refused.

/// The candidate closest to `typed` by edit distance, if it is close enough to be a
/// plausible typo (at most a third of the longer name's characters differ, and at least
/// one may).
pub fn closest<'a>(typed: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (edit_distance(typed, candidate), candidate))
        .filter(|(distance, candidate)| {
            *distance <= (typed.chars().count().max(candidate.chars().count()) / 3).max(1)
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// "existing queues: a, b (did you mean `b`?)" — or that there are none. Long lists are
/// cut after 20 names.
pub fn known_names(kind: &str, typed: &str, names: &[String]) -> String {
    const SHOWN: usize = 20;
    if names.is_empty() {
        return format!("there are no {kind} yet");
    }
    let mut text = format!("existing {kind}: ");
    text.push_str(
        &names
            .iter()
            .take(SHOWN)
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", "),
    );
    if names.len() > SHOWN {
        text.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    if let Some(best) = closest(typed, names.iter().map(String::as_str)) {
        text.push_str(&format!(" (did you mean `{best}`?)"));
    }
    text
}

/// Edits (insert, delete, substitute, swap two neighbours) that turn `a` into `b`.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    // rows[i][j]: distance between a[..i] and b[..j].
    let mut rows = vec![vec![0; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    rows[0] = (0..=b.len()).collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_names_only() {
        let names = ["mail", "reports", "default"];
        assert_eq!(closest("mial", names), Some("mail"));
        assert_eq!(closest("report", names), Some("reports"));
        assert_eq!(closest("zzzzzz", names), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("mial", "mail"), 1);
    }

    #[test]
    fn lists_the_names_that_exist() {
        let names = vec!["hello".to_owned(), "world".to_owned()];
        assert_eq!(
            known_names("scripts", "helo", &names),
            "existing scripts: hello, world (did you mean `hello`?)"
        );
        assert_eq!(known_names("queues", "x", &[]), "there are no queues yet");
    }
}
