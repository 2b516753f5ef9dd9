-- Routing reads each queue's waiting contacts per channel (so a long SMS backlog nobody has a
-- free SMS slot for cannot hide the chats behind it): the waiting index, split by channel.
CREATE INDEX interactions_waiting_channel_idx ON interactions (queue_id, channel, priority DESC, queued_at) WHERE state = 'queued';
