"""Points service (积分制): village household rosters (一户一档), schemes (积分方案) and
their items, claims with review and publicity (申报、评议、公示), the ledger of accounts,
lots and entries (积分台账), batch scoring, the points supermarket (积分超市), annual
cycles, rankings and honours (红黑榜、星级文明户)."""

SERVICE = "shanzhi.points"
TOPIC = "shanzhi.points.v1"
