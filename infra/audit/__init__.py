"""Tag audit against a real AWS account (boto3, `ops` group): `gpt-oss-platform audit tags`.

- `inventory`: which resources belong to an environment, found through the Resource Groups
  Tagging API, EKS, EC2 and Auto Scaling, including what node groups and Karpenter launched;
- `tags`: which of them miss a required tag, carry it in the wrong case or with another value;
- `budget`: whether the environment's AWS Budget exists and filters on its `environment` tag;
- `report`: the findings as a table and as JSON.
"""
