"""Reviews: a person's verdict on an event, stored as labelImg files training can read."""
