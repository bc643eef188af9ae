//! A unified diff of two texts (a/PATH, b/PATH), for the C side of
//! `pyhost port fix` (the Python side's tool writes its own with difflib).
//! Lines are compared with Myers' O(ND) algorithm: a rewrite changes few
//! lines, so D is small even in a large file.

/// Lines of context around each change, as `diff -u`.
const CONTEXT: usize = 3;

fn lines(text: &[u8]) -> Vec<&[u8]> {
    text.split_inclusive(|&b| b == b'\n').collect()
}

/// `a/label` to `b/label`; empty when the texts are equal.
pub fn unified(label: &str, old: &[u8], new: &[u8]) -> Vec<u8> {
    if old == new {
        return Vec::new();
    }
    let (a, b) = (lines(old), lines(new));
    // The ops: (kind, old index, new index): ' ', '-', '+'.
    let head = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let tail = a[head..].iter().rev().zip(b[head..].iter().rev()).take_while(|(x, y)| x == y).count();
    let (ma, mb) = (&a[head..a.len() - tail], &b[head..b.len() - tail]);
    let mut ops: Vec<(u8, usize, usize)> = (0..head).map(|k| (b' ', k, k)).collect();
    for (kind, x, y) in myers(ma, mb) {
        ops.push((kind, head + x, head + y));
    }
    ops.extend((0..tail).map(|k| (b' ', a.len() - tail + k, b.len() - tail + k)));
    let mut out = format!("--- a/{label}\n+++ b/{label}\n").into_bytes();
    let changed: Vec<usize> = (0..ops.len()).filter(|&k| ops[k].0 != b' ').collect();
    let mut k = 0;
    while k < changed.len() {
        let start = changed[k].saturating_sub(CONTEXT);
        let mut last = changed[k];
        while k + 1 < changed.len() && changed[k + 1] <= last + 2 * CONTEXT + 1 {
            k += 1;
            last = changed[k];
        }
        k += 1;
        let end = (last + CONTEXT + 1).min(ops.len());
        let hunk = &ops[start..end];
        let old_len = hunk.iter().filter(|o| o.0 != b'+').count();
        let new_len = hunk.iter().filter(|o| o.0 != b'-').count();
        let old_start = hunk[0].1 + usize::from(old_len > 0);
        let new_start = hunk[0].2 + usize::from(new_len > 0);
        out.extend_from_slice(format!("@@ -{old_start},{old_len} +{new_start},{new_len} @@\n").as_bytes());
        for &(kind, x, y) in hunk {
            let line = if kind == b'+' { b[y] } else { a[x] };
            out.push(kind);
            out.extend_from_slice(line);
            if !line.ends_with(b"\n") {
                out.extend_from_slice(b"\n\\ No newline at end of file\n");
            }
        }
    }
    out
}

/// The shortest edit script from `a` to `b`: (' ' | '-' | '+', index in a, index in b).
fn myers(a: &[&[u8]], b: &[&[u8]]) -> Vec<(u8, usize, usize)> {
    let (n, m) = (a.len() as isize, b.len() as isize);
    let offset = n + m + 1;
    let at = |k: isize| (k + offset) as usize;
    let mut v = vec![0isize; (2 * offset + 1) as usize];
    // trace[d]: V before step d.
    let mut trace: Vec<Vec<isize>> = Vec::new();
    'search: for d in 0..=n + m {
        trace.push(v.clone());
        for k in (-d..=d).step_by(2) {
            let mut x =
                if k == -d || (k != d && v[at(k - 1)] < v[at(k + 1)]) { v[at(k + 1)] } else { v[at(k - 1)] + 1 };
            let mut y = x - k;
            while x < n && y < m && a[x as usize] == b[y as usize] {
                x += 1;
                y += 1;
            }
            v[at(k)] = x;
            if x >= n && y >= m {
                break 'search;
            }
        }
    }
    let mut ops = Vec::new();
    let (mut x, mut y) = (n, m);
    for d in (0..trace.len() as isize).rev() {
        let v = &trace[d as usize];
        let k = x - y;
        let prev_k = if k == -d || (k != d && v[at(k - 1)] < v[at(k + 1)]) { k + 1 } else { k - 1 };
        let prev_x = v[at(prev_k)];
        let prev_y = prev_x - prev_k;
        while x > prev_x && y > prev_y {
            ops.push((b' ', (x - 1) as usize, (y - 1) as usize));
            x -= 1;
            y -= 1;
        }
        if d > 0 {
            if x == prev_x {
                ops.push((b'+', x as usize, (y - 1) as usize));
            } else {
                ops.push((b'-', (x - 1) as usize, y as usize));
            }
        }
        x = prev_x;
        y = prev_y;
    }
    ops.reverse();
    ops
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_changed_line_with_its_context() {
        let old = b"1\n2\n3\n4\n5\n6\n7\n8\n9\n";
        let new = b"1\n2\n3\n4\nfive\n6\n7\n8\n9\n";
        let diff = String::from_utf8(super::unified("x.c", old, new)).unwrap();
        assert_eq!(diff, "--- a/x.c\n+++ b/x.c\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n");
        assert!(super::unified("x.c", old, old).is_empty());
        let inserted = String::from_utf8(super::unified("x.c", b"a\nb\n", b"a\nnew\nb\n")).unwrap();
        assert_eq!(inserted, "--- a/x.c\n+++ b/x.c\n@@ -1,2 +1,3 @@\n a\n+new\n b\n");
    }
}
