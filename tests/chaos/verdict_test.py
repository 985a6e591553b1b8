#!/usr/bin/python3
"""The chaos test's checks, each shown to fail on records that break its invariant (chaos.verdict_checks).

The chaos run itself can only show that the invariants held; these cases show that the same code
would have said so if they had not: a lost write, a write on a member that did not own its timeline,
a write on the old timeline after the promotion, timelines going back, a read session that began on
a primary. Pure: no cluster, milliseconds.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import verdict  # noqa: E402

T0 = 1_800_000_000.0
# Patroni's GET /history after two promotions: node2 into timeline 2 at T0+10, node3 into 3 at T0+20.
HISTORY = [
    [1, 50331808, "no recovery target specified", "2027-01-15T08:00:10+00:00", "node2"],
    [2, 83886240, "no recovery target specified", "2027-01-15T08:00:20+00:00", "node3"],
]
H0 = verdict.datetime.fromisoformat("2027-01-15T08:00:00+00:00").timestamp()
NAMES = {26441: "node1", 26442: "node2", 26443: "node3"}


def write(seq, port, tl, at, ok=True):
    return {"seq": seq, "ok": ok, "port": port, "tl": tl, "tlc": tl, "at": H0 + at, "start": H0 + at - 0.001,
            "end": H0 + at + 0.001, "phase": "write"}


class Timelines(unittest.TestCase):
    def test_spans_follow_the_history(self):
        spans = verdict.history_timelines(HISTORY, "node1")
        self.assertEqual(spans[1], ("node1", float("-inf"), H0 + 10))
        self.assertEqual(spans[2], ("node2", H0 + 10, H0 + 20))
        self.assertEqual(spans[3], ("node3", H0 + 20, float("inf")))

    def test_empty_history_is_timeline_one_of_the_first_leader(self):
        self.assertEqual(verdict.history_timelines([], "node2"), {1: ("node2", float("-inf"), float("inf"))})

    def test_a_line_without_timestamp_is_refused(self):
        with self.assertRaises(ValueError):
            verdict.history_timelines([[1, 50331808, "no recovery target specified"]], "node1")


class WrongLeader(unittest.TestCase):
    spans = verdict.history_timelines(HISTORY, "node1")

    def check(self, writes):
        return verdict.wrong_leader_writes(writes, self.spans, NAMES)

    def test_each_write_on_its_timelines_leader_passes(self):
        self.assertEqual(self.check([write(1, 26441, 1, 5), write(2, 26442, 2, 15), write(3, 26443, 3, 25)]), [])

    def test_a_member_writing_on_a_timeline_it_does_not_own_fails(self):
        bad = self.check([write(1, 26441, 1, 5), write(2, 26443, 2, 15)])
        self.assertEqual(len(bad), 1)
        self.assertIn("seq 2 on node3 on timeline 2, whose leader was node2", bad[0])

    def test_the_old_leader_writing_after_the_promotion_fails(self):
        # node1 still committing on timeline 1 at T0+12, after node2 promoted at T0+10: two writers.
        bad = self.check([write(1, 26442, 2, 11), write(2, 26441, 1, 12)])
        self.assertTrue(any("outside timeline 1" in b for b in bad), bad)
        self.assertTrue(any("after a write on timeline 2" in b for b in bad), bad)

    def test_a_timeline_not_in_the_history_fails(self):
        bad = self.check([write(1, 26441, 7, 5)])
        self.assertIn("timeline 7 is not in Patroni's history", bad[0])


class Lost(unittest.TestCase):
    def test_missing_or_changed_rows_are_lost(self):
        acked = [write(1, 26441, 1, 1), write(2, 26441, 1, 2), write(3, 26441, 1, 3)]
        rows = {1: (26441, 1, H0 + 1), 3: (26442, 2, H0 + 3)}
        self.assertEqual([w["seq"] for w in verdict.lost_writes(acked, rows)], [2, 3])

    def test_all_rows_there_is_nothing_lost(self):
        acked = [write(1, 26441, 1, 1)]
        self.assertEqual(verdict.lost_writes(acked, {1: (26441, 1, H0 + 1), 9: (26441, 1, H0 + 2)}), [])


class Reads(unittest.TestCase):
    spans = verdict.history_timelines(HISTORY, "node1")
    rows = {1: (26441, 1, H0 + 1), 2: (26442, 2, H0 + 11)}
    acked = [write(1, 26441, 1, 1), write(2, 26442, 2, 11)]

    def read(self, sid, q, rec, at=30.0, max_seq=1):
        # On node2 (26442), promoted at H0 + 10.
        return {"reader": 1, "sid": sid, "q": q, "ok": True, "port": 26442, "rec": rec, "start": H0 + at,
                "max_seq": max_seq}

    def figures(self, reads):
        return verdict.reader_figures(reads, self.spans, NAMES, self.rows, self.acked)

    def test_a_session_that_began_on_a_primary_is_named(self):
        rd = self.figures([self.read(1, 1, True), self.read(1, 2, True), self.read(2, 1, False)])
        self.assertEqual(len(rd["first_on_primary"]), 1)
        self.assertEqual(rd["first_on_primary"][0]["sid"], 2)

    def test_a_session_that_raced_the_promotion_is_counted_apart(self):
        rd = self.figures([self.read(1, 1, False, at=10.4), self.read(2, 1, False, at=11.5)])
        self.assertEqual((rd["raced_promotion"], [f["sid"] for f in rd["first_on_primary"]]), (1, [2]))

    def test_a_replica_promoted_under_a_session_is_counted_apart(self):
        rd = self.figures([self.read(1, 1, True), self.read(1, 2, False)])
        self.assertEqual((len(rd["first_on_primary"]), rd["promoted_under"], rd["queries"]), (0, 1, 2))

    def test_a_read_of_a_row_the_final_leader_lacks_is_a_phantom(self):
        rd = self.figures([self.read(1, 1, True, max_seq=2), self.read(1, 2, True, max_seq=3)])
        self.assertEqual((rd["phantoms"], rd["phantoms_after_new_leader"]), (1, 0))

    def test_a_phantom_after_a_later_acknowledged_write_is_counted_apart(self):
        # seq 1.5 never made it; seq 2 was acknowledged at H0 + 11: a read at H0 + 12 still saw 1.5.
        rd = self.figures([self.read(1, 1, True, at=10.5, max_seq=1.5), self.read(1, 2, True, at=12, max_seq=1.5)])
        self.assertEqual((rd["phantoms"], rd["phantoms_after_new_leader"]), (2, 1))


class EventFigures(unittest.TestCase):
    def test_unavailability_runs_from_the_event_to_the_first_ack_after_it(self):
        ev = {"start": H0 + 10, "new_leader": "node2"}
        writes = [write(1, 26441, 1, 9.9), write(2, 26441, 1, 10.5, ok=False), write(3, 26442, 2, 13)]
        for w in writes:
            w["member"] = NAMES[w["port"]]
        fig = verdict.event_figures(ev, writes, H0 + 30)
        self.assertAlmostEqual(fig["first"], 3.001, places=3)
        self.assertAlmostEqual(fig["on_new"], 3.001, places=3)
        self.assertAlmostEqual(fig["gap"], 3.001, places=3)
        self.assertEqual(fig["failed"], 1)


class ErrorKinds(unittest.TestCase):
    def test_sqlstate_first_then_libpq_message(self):
        self.assertEqual(verdict.error_kind({"phase": "write", "sqlstate": "25006"}), "write 25006")
        self.assertEqual(verdict.error_kind({"phase": "write", "sqlstate": None,
                                           "error": "server closed the connection unexpectedly This probably"}),
                         "write: server closed the connection unexpectedly")


if __name__ == "__main__":
    unittest.main()
