//! Delta debugging (Zeller and Hildebrandt's `ddmin`): the smallest subset of a failing set
//! that still fails, found by testing halves, quarters, ... and their complements.

/// Reduces `items` (for which `fails` holds) to a 1-minimal subset that still fails: removing
/// any single item of the result makes `fails` false. Items keep their order.
///
/// `fails` is assumed to hold for `items`; it is not called on it again.
pub fn ddmin<T: Clone>(items: &[T], fails: &mut dyn FnMut(&[T]) -> bool) -> Vec<T> {
    let mut current = items.to_vec();
    if current.is_empty() {
        return current;
    }
    let mut n = 2usize;
    while current.len() >= 2 {
        let chunks = split(&current, n);
        let mut reduced = false;
        for chunk in &chunks {
            if fails(chunk) {
                current = chunk.clone();
                n = 2;
                reduced = true;
                break;
            }
        }
        // With two chunks, each complement is the other chunk: already tried.
        if !reduced && chunks.len() > 2 {
            for i in 0..chunks.len() {
                let complement: Vec<T> = chunks
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != i)
                    .flat_map(|(_, c)| c.iter().cloned())
                    .collect();
                if fails(&complement) {
                    current = complement;
                    n = (n - 1).max(2);
                    reduced = true;
                    break;
                }
            }
        }
        if !reduced {
            if n >= current.len() {
                break;
            }
            n = (n * 2).min(current.len());
        }
    }
    if current.len() == 1 && fails(&[]) {
        current.clear();
    }
    current
}

/// `items` in `n` contiguous chunks of nearly equal size (no empty chunk).
fn split<T: Clone>(items: &[T], n: usize) -> Vec<Vec<T>> {
    let n = n.clamp(1, items.len().max(1));
    let mut out = Vec::with_capacity(n);
    let mut start = 0;
    for i in 0..n {
        let end = start + (items.len() - start) / (n - i);
        out.push(items[start..end].to_vec());
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_single_culprit() {
        let items: Vec<u32> = (0..100).collect();
        let mut tests = 0;
        let r = ddmin(&items, &mut |s| {
            tests += 1;
            s.contains(&37)
        });
        assert_eq!(r, vec![37]);
        assert!(tests < 40, "logarithmic-ish: {tests} tests");
    }

    #[test]
    fn finds_an_interacting_pair() {
        let items: Vec<u32> = (0..64).collect();
        let r = ddmin(&items, &mut |s| s.contains(&3) && s.contains(&60));
        assert_eq!(r, vec![3, 60]);
    }

    #[test]
    fn empty_when_nothing_is_needed() {
        let r = ddmin(&[1, 2, 3], &mut |_| true);
        assert!(r.is_empty());
    }

    #[test]
    fn result_is_one_minimal() {
        // Fails when at least three even items are present.
        let items: Vec<u32> = (0..20).collect();
        let mut fails = |s: &[u32]| s.iter().filter(|&&x| x % 2 == 0).count() >= 3;
        let r = ddmin(&items, &mut fails);
        assert_eq!(r.len(), 3);
        for i in 0..r.len() {
            let mut smaller = r.clone();
            smaller.remove(i);
            assert!(!fails(&smaller));
        }
    }

    #[test]
    fn split_covers_everything() {
        for len in 1..20usize {
            let items: Vec<usize> = (0..len).collect();
            for n in 1..=len {
                let chunks = split(&items, n);
                assert_eq!(chunks.len(), n);
                assert!(chunks.iter().all(|c| !c.is_empty()));
                assert_eq!(chunks.concat(), items);
            }
        }
    }
}
