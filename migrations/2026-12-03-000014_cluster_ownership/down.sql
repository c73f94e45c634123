ALTER TABLE chat_sessions DROP COLUMN owner_epoch, DROP COLUMN owner_node;
DROP TABLE cluster_nodes;
