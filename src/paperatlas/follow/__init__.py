"""Following the field: votes and trending lists, feeds, subscriptions and digests."""
