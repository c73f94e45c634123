DROP TABLE cluster_roles;
