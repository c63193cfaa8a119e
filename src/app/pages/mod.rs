mod auth;
mod planned;
mod users;

pub use auth::{LoginPage, SetupPage};
pub use planned::{
    AccountsPage, AlertsPage, DashboardPage, KeysPage, ModelsPage, NotFoundPage, PoliciesPage,
};
pub use users::UsersPage;
