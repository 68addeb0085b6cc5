"""The in-process demo graph, a tool around the node rather than part of it: a player standing in for
the camera and the 2D detector (:mod:`.player`), refine_node, and a subscriber that scores what it
receives (:mod:`.live_scorer`), wired by :mod:`.graph` (``refinet demo``, ``refinet bench node``,
and the soak's probe build on them)."""
