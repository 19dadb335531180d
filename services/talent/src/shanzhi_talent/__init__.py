"""Talent and cadres service (人才/干部): people, their village posts and terms."""

SERVICE = "shanzhi.talent"
TOPIC = "shanzhi.talent.v1"
