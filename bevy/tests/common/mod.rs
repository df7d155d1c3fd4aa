//! What the plugin's tests share.

use actorc::Snapshot;
use actorc_bevy::Stats;

/// Every stat of `stats` equals the snapshot's, bit for bit, and nothing else has a value.
pub fn assert_stats(stats: &Stats, expected: &Snapshot) {
    let want: Vec<(String, u64)> = expected
        .entries()
        .filter(|e| e.has_value())
        .map(|e| (expected.name(e.stat).to_string(), e.value.to_bits()))
        .collect();
    let got: Vec<(String, u64)> = stats.iter().map(|(n, v)| (n.to_string(), v.to_bits())).collect();
    assert_eq!(got, want);
    assert_eq!(stats.snapshot(), Some(expected));
}
