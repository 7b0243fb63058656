"""IR → HLS C++ project: the writer (:mod:`.writer`), vendor synthesis runs (:mod:`.synthesis`)
and the reports they leave (:mod:`.reports`)."""
