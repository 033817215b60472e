-- An example of a change that breaks replication: blue still writes `quantity`, so green can no
-- longer apply blue's rows to `orders` and the deployment fails, naming this statement.
ALTER TABLE shop.orders DROP COLUMN quantity;
