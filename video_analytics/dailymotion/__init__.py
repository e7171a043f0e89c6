"""DailyMotion partner reports: asynchronous reports driven by a sensor."""
