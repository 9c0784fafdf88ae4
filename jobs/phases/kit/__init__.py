"""What every phase shares: budgets, the agent step, ticket notes, results, the fixer."""
