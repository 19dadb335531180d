"""Five lists service (五项清单 / 清单制): what village organisations must, may and
must not do, with each item's basis, steps, time limit and supervisor."""

SERVICE = "shanzhi.lists"
TOPIC = "shanzhi.lists.v1"
