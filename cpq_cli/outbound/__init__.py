"""What leaves the journal: notifications (SMTP, webhook), e-mail decisions coming back, and the
ERP sync (JSON events, UBL orders)."""
