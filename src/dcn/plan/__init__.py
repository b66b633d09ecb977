"""Pure planning: from the description to one StackPlan per site. No I/O here."""
