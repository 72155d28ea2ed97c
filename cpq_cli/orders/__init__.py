"""Order management: orders and split orders, amendments, contracts, entitlements, revenue, renewals."""
