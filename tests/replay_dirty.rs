//! Case 020 (../shared/cases/LOG.md), re-expressed in our recording format: BOM, CRLF, blank
//! and whitespace-only lines, an unknown field, an out-of-order record, a duplicate, a +5 h
//! clock jump, a `Z` timestamp and a truncated last line.

use std::sync::Arc;

use situation_wall::feed::{Recording, Replay};
use situation_wall::model::Severity;

fn score(t: &str, unit: &str, v: u32, extra: &str) -> String {
    format!(r#"{{"t":"{t}","type":"scores","scores":[{{"unit":"{unit}","total":{v},"threat":{v},"asset":{v},"compliance":{v}}}]{extra}}}"#)
}

fn dirty() -> Vec<u8> {
    let lines = [
        r#"{"format":"situation-wall-recording","version":1,"map":"000-units-grid","start":"2024-05-01T08:00:00+08:00"}"#.to_owned(),
        score("2024-05-01T08:00:00.000+08:00", "330101", 11, ""),
        score("2024-05-01T08:00:01.000+08:00", "330102", 22, ""),
        String::new(),
        "   \t".to_owned(),
        score("2024-05-01T08:00:02.000+08:00", "330101", 33, r#","note":"未知字段应忽略""#),
        score("2024-05-01T08:00:03.000+08:00", "330103", 44, ""),
        score("2024-05-01T08:00:01.500+08:00", "330101", 5, ""),
        score("2024-05-01T08:00:03.000+08:00", "330103", 44, ""),
        score("2024-05-01T13:00:04.000+08:00", "330104", 66, ""),
        r#"{"t":"2024-05-01T08:00:05.000+08:00","type":"alert","id":"A7","unit":"330105","severity":"critical","category":"测试","title":"浙江省测试告警"}"#
            .to_owned(),
        score("2024-05-01T00:00:06.000Z", "330102", 88, ""),
        r#"{"t":"2024-05-01T08:00:07.000+08:00","type":"scores","scores":[{"unit":"330106","to"#.to_owned(),
    ];
    let mut bytes = "\u{feff}".as_bytes().to_vec();
    bytes.extend(lines.join("\r\n").into_bytes());
    bytes
}

#[test]
fn dirty_replay_ends_in_the_expected_state() {
    let rec = Recording::parse_bytes(&dirty());
    assert_eq!(rec.header.map, "000-units-grid", "BOM stripped, header read");
    let bad: Vec<usize> = rec.errors.iter().map(|e| e.line).collect();
    assert_eq!(bad, [13], "only the truncated last line is reported: {:?}", rec.errors);
    let g = 10.0;
    let mut replay = Replay::new(Arc::new(rec), 1.0, true, g);
    assert_eq!(replay.clamped_gaps, 1, "the +5 h jump is clamped to G");
    // Pacing: replay clock = max timestamp seen, so the whole pass takes ≤ 3 s + G + 1 s.
    assert!(replay.duration_s() <= 3.0 + g + 1.0, "{}", replay.duration_s());
    let mut passes = Vec::new();
    for _ in 0..2 {
        replay.advance(replay.duration_s() + 0.001);
        let s = replay.state();
        let mut totals: Vec<(String, f32)> = s.units().map(|(id, u)| (id.to_owned(), u.score.unwrap().total)).collect();
        totals.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(totals, [("330101".to_owned(), 33.0), ("330102".to_owned(), 88.0), ("330103".to_owned(), 44.0), ("330104".to_owned(), 66.0)]);
        let alert = s.alerts_newest_first().next().unwrap();
        assert_eq!((alert.unit.as_str(), alert.severity, alert.title.as_str()), ("330105", Severity::Critical, "浙江省测试告警"));
        // The out-of-order record (line 8) is refused, not shown; the duplicate (line 9)
        // restates the same value at the same time and changes nothing.
        let refused: Vec<usize> = replay.rejected.iter().map(|(line, _)| *line).collect();
        assert_eq!(refused, [8]);
        // One history point per 5-minute step, the step's newest: 33 replaced 11, and the
        // refused 5 is not in it.
        assert_eq!(s.unit("330101").unwrap().history.iter().map(|(_, v)| v).collect::<Vec<_>>(), [Some(33.0)]);
        passes.push(totals);
        // Hold, then start over.
        let step = replay.advance(situation_wall::feed::replay::LOOP_HOLD_S + 0.5);
        assert!(step.restarted);
    }
    assert_eq!(passes[0], passes[1], "each loop pass gives the same final state");
}
