"""Operations: alerts, the daily report, quotas and breakers, freshness."""
