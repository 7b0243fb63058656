"""End-to-end runs built on the pipeline: recipes (:mod:`.recipes`), the demo (:mod:`.demo`),
profiling (:mod:`.profiling`) and figures (:mod:`.plots`)."""
