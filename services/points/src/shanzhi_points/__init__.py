"""Points service (积分制): the household roster (一户一档) and, as it grows, schemes,
claims, the ledger and the points supermarket (积分超市)."""

SERVICE = "shanzhi.points"
TOPIC = "shanzhi.points.v1"
