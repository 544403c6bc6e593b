-- Month x channel P&L lines in the base currency: sales by order month, refunds by refund month,
-- marketplace fees by the month Amazon posted them (at the order's fx_rate); adjustments (till
-- bad-debt and manual adjustment lines, postage and fees on credit notes) by their day, at that
-- day's rate.
with

daily as (
    select * from {{ ref('sales_daily') }}
),

order_fx as (
    select * from {{ ref('int_order_fx_rates') }}
),

fees as (
    select
        date_trunc('month', {{ business_date('f.posted_at') }}) as month,
        'amazon' as channel,
        sum({{ to_base('f.fee_amount_local', 'fx.fx_rate') }}) as marketplace_fees
    from {{ ref('stg_amazon__fees') }} as f
    inner join order_fx as fx on fx.order_key = 'amazon:' || f.order_id
    group by all
),

-- fees customers were charged (Woo fee lines), by order month like the sales they came with
customer_fees as (
    select
        date_trunc('month', order_date) as month,
        channel,
        sum(fees) as fees
    from {{ ref('orders') }}
    where not is_cancelled and fees <> 0
    group by all
),

-- till lines that are neither sales nor refunds: adjustment lines wherever they are (a bad-debt
-- write-off pair nets to the amount lost), fee lines of credit notes (fees paid) and their
-- postage lines (postage refunded: postage is not in net sales), signed as exported
adjustments as (
    select
        date_trunc('month', {{ business_date('l.ordered_at') }}) as month,
        'tills' as channel,
        sum({{ to_base('l.signed_value_local', "case when l.currency = '" ~ var('base_currency') ~ "' then 1 else fx.rate_to_base end") }})
            as adjustments
    from {{ ref('stg_tills__order_lines') }} as l
    left join {{ ref('int_fx_rates_daily') }} as fx
        on fx.currency = l.currency and fx.rate_date = {{ business_date('l.ordered_at') }}
    where not l.is_cancelled
        and (l.line_type = 'adjustment' or (l.line_type in ('fee', 'shipping') and l.is_credit_note))
    group by all
),

sales as (
    select
        date_trunc('month', sales_date) as month,
        channel,
        sum(orders) as orders,
        sum(units) as units,
        sum(gross_sales) as gross_sales,
        sum(discounts) as discounts,
        sum(refunds) as refunds,
        sum(net_sales) as net_sales,
        sum(cogs) as cogs,
        count(*) filter (where cogs is null) as cells_without_cost
    from daily
    group by all
),

final as (
    select
        cast(coalesce(s.month, f.month, a.month) as date) as month,
        coalesce(s.channel, f.channel, a.channel) as channel,
        cast(coalesce(s.orders, 0) as integer) as orders,
        cast(coalesce(s.units, 0) as integer) as units,
        cast(coalesce(s.gross_sales, 0) as decimal(18, 4)) as gross_sales,
        cast(coalesce(s.discounts, 0) as decimal(18, 4)) as discounts,
        cast(coalesce(s.refunds, 0) as decimal(18, 4)) as refunds,
        cast(coalesce(s.net_sales, 0) as decimal(18, 4)) as net_sales,
        cast(coalesce(f.marketplace_fees, 0) as decimal(18, 4)) as marketplace_fees,
        cast(coalesce(cf.fees, 0) as decimal(18, 4)) as fees,
        cast(coalesce(a.adjustments, 0) as decimal(18, 4)) as adjustments,
        case when coalesce(s.cells_without_cost, 0) = 0 then cast(coalesce(s.cogs, 0) as decimal(18, 4)) end
            as cogs
    from sales as s
    full outer join fees as f on s.month = f.month and s.channel = f.channel
    full outer join adjustments as a
        on coalesce(s.month, f.month) = a.month and coalesce(s.channel, f.channel) = a.channel
    -- an order with fees has lines, so its month and channel are in sales
    left join customer_fees as cf on s.month = cf.month and s.channel = cf.channel
)

select
    *,
    cast(net_sales - cogs - marketplace_fees as decimal(18, 4)) as gross_profit
from final
