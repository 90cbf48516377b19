//! The online CPUs, one ring buffer (and one reader) each.

use std::fs;

use super::error::TracefsError;

const ONLINE: &str = "/sys/devices/system/cpu/online";

pub fn online() -> Result<Vec<u32>, TracefsError> {
    let text = fs::read_to_string(ONLINE).map_err(|err| TracefsError::io("list the online CPUs", ONLINE, err))?;
    parse_list(&text).ok_or_else(|| {
        let err = std::io::Error::new(std::io::ErrorKind::InvalidData, format!("expected a CPU list like `0-3,8`, found `{}`", text.trim()));
        TracefsError::io("list the online CPUs", ONLINE, err)
    })
}

/// A kernel CPU list: `0-3,8,10-11`.
fn parse_list(text: &str) -> Option<Vec<u32>> {
    let mut cpus = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let (first, last): (u32, u32) = match part.split_once('-') {
            Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
            None => (part.parse().ok()?, part.parse().ok()?),
        };
        cpus.extend(first..=last);
    }
    (!cpus.is_empty()).then_some(cpus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_list_ranges_and_singles() {
        assert_eq!(parse_list("0-1\n"), Some(vec![0, 1]));
        assert_eq!(parse_list("0,2-3,7"), Some(vec![0, 2, 3, 7]));
        assert_eq!(parse_list("x"), None);
        assert_eq!(parse_list(""), None);
    }
}
