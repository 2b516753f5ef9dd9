-- Routing reads that must not grow with history (as 006): every pass that considers a waiting
-- contact reads the agents who rejected it or let it ring out, and read through
-- offers_interaction_idx that was a walk over every offer the contact was ever made. A contact
-- withdrawn each time its agent goes away piles up revoked offers: 3,000 of them made that read
-- take 0.73 ms against 0.035 ms through this index, which holds only the declined ones.
CREATE INDEX offers_declined_idx ON offers (interaction_id, agent_id) WHERE state IN ('rejected', 'expired');
